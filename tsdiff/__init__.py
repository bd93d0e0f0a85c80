"""tsdiff."""
