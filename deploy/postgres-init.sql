-- leadflow's own role and database, beside the two Temporal's schema service creates.
CREATE ROLE leadflow WITH LOGIN PASSWORD 'leadflow';
CREATE DATABASE leadflow OWNER leadflow;
