"""What every learned variant shares: network blocks, geometry on tensors, the networks' configuration
(`config`, written to config.json) and the learned-stage base class (`stage`)."""
