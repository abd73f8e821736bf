"""In-memory stand-ins for the devices a show talks to: nodes, receivers, widgets, peers."""
