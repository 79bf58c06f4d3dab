"""Assignment's adapters: its rules file, and the index of open cases read from its log."""
