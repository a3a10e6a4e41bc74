"""The technician's face: the ``hutgw`` command line."""
