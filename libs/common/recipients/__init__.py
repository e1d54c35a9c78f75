"""The recipients directory: one record and upsert, roles and companies per project."""
