"""“Label a file”: a classification product's trained version labels every row of a dataset version, in a job."""
