"""Running a batch: find the inputs (`discover`), plan the work (`plan`), analyse it locally
(`batch.run_local`) or on Ray (`distributed.run_ray`, with `ray_stages`, `ray_progress`,
`ledger`, `units`), split long videos and merge them back (`segments`), and keep results on
disk (`store`, `manifest`)."""
