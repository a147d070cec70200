module.exports = {
  apps: [
    {
      name: 'web',
      script: 'server.js',
      // Per pod: the Deployment's replicas multiply it.
      instances: 2,
      exec_mode: 'cluster',
      // Ready (for /readyz) once the app sends 'ready'.
      wait_ready: true,
      listen_timeout: 10000,
      // The pod's terminationGracePeriodSeconds leaves room for this.
      kill_timeout: 8000,
      env: { PORT: process.env.PORT || 3000 },
    },
  ],
};
