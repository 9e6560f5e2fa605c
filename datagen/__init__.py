"""pixring datagen."""
