// The hook entry point: one hook per process, as the runner starts them
// (`node index.js prepare_job`, `run_script_step`, `run_container_step <n>`, `cleanup_job`), plus
// `create_pod <name>` (one job pod create, for the adoption and lost-create checks). The last line
// on stdout is `RESULT <json>`; a failure exits 1 after `::error::<message>`.
import {
  createDockerSecret,
  createJob,
  createJobPod,
  createSecretForEnvs,
  deleteJob,
  deleteSecret,
  isAuthPermissionsOK,
  jobPodName,
  prunePods,
  pruneSecrets,
  runnerName,
  waitForJobToComplete,
  waitForPodPhases,
} from './k8s';

async function prepareJob(): Promise<unknown> {
  if (!(await isAuthPermissionsOK())) throw new Error('the runner lacks permissions for its pods and secrets');
  await prunePods();
  const secret = await createDockerSecret({ serverUrl: 'https://registry.invalid/', username: 'runner', password: 'not-a-secret' });
  const pod = await createJobPod(jobPodName(), secret.metadata?.name);
  const phase = await waitForPodPhases(jobPodName(), ['Running'], ['Pending', 'Unknown']);
  return { state: { jobPod: pod.metadata?.name, registrySecret: secret.metadata?.name }, phase };
}

async function runScriptStep(): Promise<unknown> {
  const envSecret = await createSecretForEnvs({ STEP: 'script', RUNNER: runnerName() });
  // (the script would run in the job pod through exec here)
  await deleteSecret(envSecret);
  return { envSecret };
}

async function runContainerStep(step: string): Promise<unknown> {
  const envSecret = await createSecretForEnvs({ STEP: `container-${step}`, RUNNER: runnerName() });
  const name = `${runnerName()}-step-${step}`;
  await createJob(name, envSecret);
  await waitForJobToComplete(name);
  await deleteJob(name);
  await deleteSecret(envSecret);
  return { job: name, envSecret };
}

async function cleanupJob(): Promise<unknown> {
  await prunePods();
  await pruneSecrets();
  return {};
}

async function createPod(name: string): Promise<unknown> {
  const pod = await createJobPod(name);
  return { name: pod.metadata?.name, annotations: pod.metadata?.annotations ?? {} };
}

const hooks: Record<string, (arg: string) => Promise<unknown>> = {
  prepare_job: prepareJob,
  run_script_step: runScriptStep,
  run_container_step: runContainerStep,
  cleanup_job: cleanupJob,
  create_pod: createPod,
};

async function main(): Promise<void> {
  const [command = '', arg = ''] = process.argv.slice(2);
  const hook = hooks[command];
  if (hook === undefined) throw new Error(`unknown hook "${command}" (one of ${Object.keys(hooks).join(', ')})`);
  const result = await hook(arg);
  console.log(`RESULT ${JSON.stringify({ ok: true, ...(result as object) })}`);
}

main().catch((err: unknown) => {
  const e = err as { code?: unknown; message?: unknown; body?: unknown; k8sretry?: { reason?: unknown; attempts?: unknown } };
  const message = typeof e?.message === 'string' ? e.message.split('\n')[0] : String(err);
  let reason: unknown;
  try {
    reason = typeof e?.body === 'string' ? JSON.parse(e.body).reason : undefined;
  } catch {
    reason = undefined;
  }
  console.log(`::error::${message}`);
  console.log(
    `RESULT ${JSON.stringify({ ok: false, type: (err as Error)?.constructor?.name, code: e?.code, reason, giveUp: e?.k8sretry?.reason, attempts: e?.k8sretry?.attempts, message })}`,
  );
  process.exitCode = 1;
});
