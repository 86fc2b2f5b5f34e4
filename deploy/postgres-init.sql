-- leadflow's own role and database, beside the ones Temporal's auto-setup creates.
CREATE ROLE leadflow WITH LOGIN PASSWORD 'leadflow';
CREATE DATABASE leadflow OWNER leadflow;
