"""Server-rendered pages: sign-in, the operator sidebar, the department workspace, the dashboard."""
