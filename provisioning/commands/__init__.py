"""Sub-commands of ``hutgw``, one module each (discovered by ``provisioning.cli``)."""
