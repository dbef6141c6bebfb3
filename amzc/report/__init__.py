"""Looking at a finished or running evolution: the progress plot and the HTML report."""
