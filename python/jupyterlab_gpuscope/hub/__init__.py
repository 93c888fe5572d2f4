"""The class on JupyterHub: a Hub service for instructors.

Each student's server exports gpuscope's gauges (class_routes.py); Prometheus finds the
running servers through this service (targets.py), scrapes them through the proxy and
keeps the history; this service asks Prometheus for the class's picture (classview.py),
shows it to users with the instructor's scope (app.py), acts through the Hub's and the
servers' APIs (hubapi.py) and applies the class's idle policy (reclaim.py).
"""
