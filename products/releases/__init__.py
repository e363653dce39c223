"""A/B releases between product versions, and the usage rollups that their pages and the dashboards read."""
