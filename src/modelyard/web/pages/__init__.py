"""Page handlers, one module per section: thin, they call services and render templates."""
