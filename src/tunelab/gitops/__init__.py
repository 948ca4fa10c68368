"""Git repositories linked to projects: the server's mirrors of them, what it reads from them
(branches, commits, files at a commit, committed metrics), and the credentials it fetches with.

Everything here runs ``git`` itself (a subprocess, never a shell) and is imported by the
server only.
"""
