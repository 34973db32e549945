"""PostgreSQL 10+ through psycopg 3: pre-flight checks and catalog discovery."""
