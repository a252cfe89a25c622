import { PodAddresses } from './pod-addresses';

const nodeB = { name: 'node-b', index: 2 };
const pod = (uid: string, podIP?: string) => ({ metadata: { uid }, spec: { nodeName: 'node-b' }, status: podIP ? { podIP } : {} });

describe('node agent pod addresses', () => {
  test('a new pod gets the lowest free address of its node; a released one is reused', () => {
    const a = new PodAddresses();
    expect(a.allocate(nodeB, 'p1')).toEqual(['10.250.2.10']);
    expect(a.allocate(nodeB, 'p2')).toEqual(['10.250.2.11']);
    a.release('p1');
    expect(a.allocate(nodeB, 'p3')).toEqual(['10.250.2.10']);
    expect(a.allocate({ name: 'node-a', index: 1 }, 'p4')).toEqual(['10.250.1.10']);
  });

  // What happened on the shared cluster: node-b was lost (every address of its pods released),
  // a pod was bound to it meanwhile, and at restore the new pod, listed first, was given the
  // address a returning StatefulSet pod still had in its status: two Running pods, one IP.
  test('when a lost node comes back, its returning pods keep their addresses and a new pod gets another', () => {
    const a = new PodAddresses();
    expect(a.allocate(nodeB, 'replica')).toEqual(['10.250.2.10']);
    expect(a.allocate(nodeB, 'primary')).toEqual(['10.250.2.11']);
    a.release('replica');
    a.release('primary');
    const listed = [pod('new'), pod('replica', '10.250.2.10'), pod('primary', '10.250.2.11')];
    a.reserveRecorded(nodeB, listed);
    expect(listed.map((p) => a.allocate(nodeB, p.metadata.uid, p.status.podIP)[0])).toEqual(['10.250.2.12', '10.250.2.10', '10.250.2.11']);
  });

  test('a recorded address another pod holds is refused rather than shared', () => {
    const a = new PodAddresses();
    expect(a.allocate(nodeB, 'new')).toEqual(['10.250.2.10']);
    expect(() => a.allocate(nodeB, 'replica', '10.250.2.10')).toThrow(/10.250.2.10 is held by pod new/);
  });

  test('finished pods hold no address; two pods recording one address leave it with the first', () => {
    const a = new PodAddresses();
    a.reserveRecorded(nodeB, [
      { ...pod('job', '10.250.2.10'), status: { podIP: '10.250.2.10', phase: 'Succeeded' } },
      pod('first', '10.250.2.11'),
      pod('second', '10.250.2.11'),
    ]);
    expect(a.allocate(nodeB, 'new')).toEqual(['10.250.2.10']);
    expect(a.allocate(nodeB, 'first', '10.250.2.11')).toEqual(['10.250.2.11']);
    expect(() => a.allocate(nodeB, 'second', '10.250.2.11')).toThrow(/held by pod first/);
  });

  test('releasing a pod frees only its own address', () => {
    const a = new PodAddresses();
    a.allocate(nodeB, 'p1');
    a.release('p1');
    a.allocate(nodeB, 'p2');
    a.release('p1');
    expect(a.allocate(nodeB, 'p3')).toEqual(['10.250.2.11']);
  });

  test('IPv6 and dual-stack pods get one address per family, with the same host number; the primary recorded one is kept', () => {
    const v6 = new PodAddresses(['IPv6']);
    expect(v6.allocate(nodeB, 'p1')).toEqual(['fd00:250::2:10']);
    expect(v6.allocate(nodeB, 'p2', 'fd00:250::2:42')).toEqual(['fd00:250::2:42']);
    const dual = new PodAddresses(['IPv4', 'IPv6']);
    expect(dual.allocate(nodeB, 'p1')).toEqual(['10.250.2.10', 'fd00:250::2:10']);
    dual.reserveRecorded(nodeB, [pod('back', '10.250.2.11')]);
    expect(dual.allocate(nodeB, 'new')).toEqual(['10.250.2.12', 'fd00:250::2:12']);
    expect(dual.allocate(nodeB, 'back', '10.250.2.11')).toEqual(['10.250.2.11', 'fd00:250::2:11']);
    // A recorded address of another family or node is not this node's: the pod gets a free one.
    expect(v6.allocate(nodeB, 'p3', '10.250.2.50')).toEqual(['fd00:250::2:11']);
  });
});
