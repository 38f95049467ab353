# spawner, built by scripts/build_project.sh from a static binary (no base image needed).
# It needs the Docker socket: mount /var/run/docker.sock.
FROM scratch
COPY spawner /spawner
EXPOSE 8000 8008
ENTRYPOINT ["/spawner"]
