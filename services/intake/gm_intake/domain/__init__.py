"""Intake's pure domain: registrations, flags, screening reports, risk assessments. No I/O."""
