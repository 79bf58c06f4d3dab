"""The demo month (`make demo`): Hebi's agencies, clerks, mediators and leaders at work for
a month, played against running services through the public contract only — then the
figures reporting shows, checked against the plan, and where to look.

month.py: the month as data (pure); people.py: its people; play.py: playing it (kombu and
HTTP); figures.py: counting it through reporting; run.py: the command.
"""
