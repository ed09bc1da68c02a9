"""`bgpdoctor tui`: the interactive Textual front end.

Only `app.py`, `screens.py` and `cli.py` import textual; `source.py` (the engine adapters) and
`view.py` (what each screen lists) are plain Python, so they are tested without a terminal. The TUI
renders what the engine computes (Report, StatusReport); it reaches no diagnosis of its own.
"""
