"""MySQL 5.7/8 and MariaDB 10.3+ through pymysql: pre-flight checks and catalog discovery."""
