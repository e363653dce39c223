"""Knowledge bases of Q&A products: the dataset versions they answer from and the indexes built on them."""
