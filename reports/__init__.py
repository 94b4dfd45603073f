"""Reports rendered from run logs (Markdown, HTML, CSV) and committed baselines."""
