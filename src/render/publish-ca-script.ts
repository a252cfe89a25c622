import { scriptText } from './script-files';

/**
 * The program of the CA publisher (a Job at apply and a daily CronJob): copies the cluster CA's
 * certificate, and nothing else, into the ConfigMap clients mount. The pod mounts only the
 * `ca.crt` item of the server certificate's Secret (the kubelet reads the Secret; the pod sees
 * the certificate alone), so the program needs no right on Secrets: it reads a file and patches
 * one named ConfigMap. It refuses to publish anything that is not PEM certificates.
 *
 * Environment: CA_FILE, CA_CONFIGMAP, KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT, optional
 * SA_DIR (defaults to the service account mount). The program is src/scripts/publish-ca.py.
 */
export const PUBLISH_CA_SCRIPT = scriptText('publish-ca.py');
