"""The report: the JSON document a run produces, and its text and Markdown renderings."""
