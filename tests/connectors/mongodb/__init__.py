"""MongoDB source and sink tests: nx-27017, or a real MongoDB when DTS_TEST_MONGO_URI is set."""
