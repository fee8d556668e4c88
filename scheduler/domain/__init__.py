"""The pure core: protocols, course planning, reminder planning, send window, templates.

Nothing here touches a database, the network or the clock: callers pass `now` in.
"""
