"""Reports: the weekly performance report (JSON, HTML, PNG) generated as a job, and the
storage and download of every report's files."""
