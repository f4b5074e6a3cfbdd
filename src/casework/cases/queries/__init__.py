"""The SQL of Connect Cases, one module per kind of data, each function named for what it does."""
