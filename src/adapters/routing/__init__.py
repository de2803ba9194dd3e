"""The router's tensor-side pieces: nearest-expert search and learned routers (issue 10)."""
