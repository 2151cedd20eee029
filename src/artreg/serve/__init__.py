"""``artreg serve``: a dir target served on 127.0.0.1 as the bucket's website would."""
