"""Workshops and seats (workshops/), the call for talks with its review and delegates' stars (call/), and the
programme's schedule (schedule/). `sessions.wiring.install()` connects the package to the registration core."""
