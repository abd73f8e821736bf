"""L5 digital-twin previews: top-down pictures of what every fixture shows."""
