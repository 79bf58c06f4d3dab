"""Grand Mediation Linkage reporting service: projections (read models) of every
service's events, and the queries leaders and analysts run on them."""
