"""Who may log in and what each role may do: users, passwords, sessions, CSRF, login limits.

Imports only the kernel and the console's own queries; never a client of another service.
"""
