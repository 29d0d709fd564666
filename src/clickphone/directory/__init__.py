"""Directory: departments, employees, SIP devices, contacts."""
