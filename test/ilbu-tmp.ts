import { BgpEngine } from '../src/bgp/index.ts';
const e = new BgpEngine({ routerId: '10.9.9.2', listen: { address: '::', port: 179 } });
e.on('state', (ev) => console.log('state', JSON.stringify(ev)));
await e.ready();
e.addPeer({ name: 'u', localAsn: 65001, dynamicAsn: 'external', interface: 'ilbu1', connectRetryTime: 1 });
e.setRoutes('u', new Map([['10.50.1.1/32', {}], ['fd00:50:1::1/128', {}]]));
setTimeout(async () => { console.log(JSON.stringify(e.peerStatus('u'))); await e.close(); }, 8000);
