"""Pipeline stages: each takes inputs and a HubClient and returns models and failures."""
