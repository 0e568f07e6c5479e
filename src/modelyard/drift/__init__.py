"""Data drift: a reference and a current dataset compared column by column (see ``detector``)."""
