"""Base models a product version writes with: the bundled ones and those a team registered from the operator's
models folder (inference/model_folder.py holds the folder's rules)."""
