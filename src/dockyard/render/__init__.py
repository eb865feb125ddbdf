"""Plan -> Dockerfile and the files its build needs. `renderer.render` assembles stages from the
building blocks (blocks/), typed instructions (instructions), the Dockerfile emitter (dockerfile) and a
lock file's pins (lockfile); `files/` holds the scripts copied into the build context."""
