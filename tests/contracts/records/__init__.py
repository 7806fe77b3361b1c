"""One contract per stored record; every implementation of its port passes it (memory and Azurite)."""
