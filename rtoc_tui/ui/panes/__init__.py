"""One widget per pane of the main screen."""
