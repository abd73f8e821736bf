"""L1 show, rig and fixture-profile formats: models, position-keeping loader, checks."""
