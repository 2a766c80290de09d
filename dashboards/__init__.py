"""Panel dashboards on top of dse results stores (nothing imports this package)."""
