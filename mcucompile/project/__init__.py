"""Writing a buildable project from a Program."""
