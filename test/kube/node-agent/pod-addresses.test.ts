import { PodAddresses } from './pod-addresses';

const nodeB = { name: 'node-b', index: 2 };
const pod = (uid: string, podIP?: string) => ({ metadata: { uid }, spec: { nodeName: 'node-b' }, status: podIP ? { podIP } : {} });

describe('node agent pod addresses', () => {
  test('a new pod gets the lowest free address of its node; a released one is reused', () => {
    const a = new PodAddresses();
    expect(a.allocate(nodeB, 'p1')).toBe('10.250.2.10');
    expect(a.allocate(nodeB, 'p2')).toBe('10.250.2.11');
    a.release('p1');
    expect(a.allocate(nodeB, 'p3')).toBe('10.250.2.10');
    expect(a.allocate({ name: 'node-a', index: 1 }, 'p4')).toBe('10.250.1.10');
  });

  // What happened on the shared cluster: node-b was lost (every address of its pods released),
  // a pod was bound to it meanwhile, and at restore the new pod, listed first, was given the
  // address a returning StatefulSet pod still had in its status: two Running pods, one IP.
  test('when a lost node comes back, its returning pods keep their addresses and a new pod gets another', () => {
    const a = new PodAddresses();
    expect(a.allocate(nodeB, 'replica')).toBe('10.250.2.10');
    expect(a.allocate(nodeB, 'primary')).toBe('10.250.2.11');
    a.release('replica');
    a.release('primary');
    const listed = [pod('new'), pod('replica', '10.250.2.10'), pod('primary', '10.250.2.11')];
    a.reserveRecorded(nodeB, listed);
    expect(listed.map((p) => a.allocate(nodeB, p.metadata.uid, p.status.podIP))).toEqual(['10.250.2.12', '10.250.2.10', '10.250.2.11']);
  });

  test('a recorded address another pod holds is refused rather than shared', () => {
    const a = new PodAddresses();
    expect(a.allocate(nodeB, 'new')).toBe('10.250.2.10');
    expect(() => a.allocate(nodeB, 'replica', '10.250.2.10')).toThrow(/10.250.2.10 is held by pod new/);
  });

  test('finished pods hold no address; two pods recording one address leave it with the first', () => {
    const a = new PodAddresses();
    a.reserveRecorded(nodeB, [
      { ...pod('job', '10.250.2.10'), status: { podIP: '10.250.2.10', phase: 'Succeeded' } },
      pod('first', '10.250.2.11'),
      pod('second', '10.250.2.11'),
    ]);
    expect(a.allocate(nodeB, 'new')).toBe('10.250.2.10');
    expect(a.allocate(nodeB, 'first', '10.250.2.11')).toBe('10.250.2.11');
    expect(() => a.allocate(nodeB, 'second', '10.250.2.11')).toThrow(/held by pod first/);
  });

  test('releasing a pod frees only its own address', () => {
    const a = new PodAddresses();
    a.allocate(nodeB, 'p1');
    a.release('p1');
    a.allocate(nodeB, 'p2');
    a.release('p1');
    expect(a.allocate(nodeB, 'p3')).toBe('10.250.2.11');
  });
});
