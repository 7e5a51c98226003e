"""The federated engine: strategies, local training, worker pool and aggregator on Ray."""
