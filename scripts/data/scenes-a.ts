/**
 * Scenes for the DialogSum-style set, part one (errands and services). A scene draws its details
 * from a Ctx and returns the turns (alternating, #Person1# first) and a summary that states only
 * what the turns say: who wants what, the decision, and the key detail.
 */
import { a, cap, type Ctx } from './world';

export interface Scene {
  topic: string;
  make: (c: Ctx) => { lines: string[]; summary: string };
}

const shopping: Scene = {
  topic: 'shopping',
  make: (c) => {
    const item = c.v(...c.p.clothing), color = c.v(...c.p.color), [c1] = [c.v(...c.p.color.filter((x) => x !== color))];
    const price = c.price(20, 150), takes = c.r() < 0.6;
    return {
      lines: [
        c.v(`Excuse me, I'm looking for ${a(item)}.`, `Hello, could you help me find ${a(item)}?`, `Hi, do you sell ${item === 'pair of jeans' || item === 'pair of boots' ? item.replace('pair of ', '') : item + 's'}?`),
        c.v(`Sure. What color would you like?`, `Of course. Which color do you prefer?`),
        `I'd like a ${color} one, please. ${c.v('My old one is worn out.', 'It is for a party next week.', 'It is a gift for my friend.')}`,
        c.v(`Here is a ${color} ${item}. We also have it in ${c1}.`, `This ${color} ${item} is very popular. There is a ${c1} one too.`),
        `How much is the ${color} one?`,
        `It's ${price} dollars.`,
        takes ? c.v(`That's fine. I'll take it.`, `Good, I'll take the ${color} one.`) : c.v(`That's too expensive for me. I'll look around first.`, `Hmm, that's more than I want to pay. Maybe next time.`),
        takes ? c.v(`Great. Would you like to pay by card or cash?`, `Thank you. You can pay at the counter.`) : c.v(`No problem. Come back any time.`, `All right. Let me know if you change your mind.`),
      ],
      summary: takes
        ? c.v(`#Person1# wants to buy a ${color} ${item}. #Person2# shows it to #Person1#, and #Person1# takes it for ${price} dollars.`,
          `#Person1# buys a ${color} ${item} for ${price} dollars with #Person2#'s help.`)
        : c.v(`#Person1# wants a ${color} ${item} but thinks ${price} dollars is too expensive, so #Person1# doesn't buy it.`,
          `#Person1# asks #Person2# for a ${color} ${item}. It costs ${price} dollars, which is too much for #Person1#.`),
    };
  },
};

const doctor: Scene = {
  topic: 'doctor visit',
  make: (c) => {
    const name = c.v(...c.p.name), sym = c.v(...c.p.symptom), days = c.count(), med = c.v(...c.p.medicine), rest = c.count();
    return {
      lines: [
        c.v(`Good morning, ${name}. What seems to be the problem?`, `Hello ${name}, please sit down. How can I help you today?`),
        `I've had ${sym} for ${days} days, doctor.`,
        c.v(`Have you taken anything for it?`, `Did you take any medicine?`),
        c.v(`No, I thought it would go away by itself.`, `Only some tea with honey, but it didn't help.`),
        c.v(`Let me have a look. It's nothing serious, but you need some rest.`, `I see. Let me check you. You are a little run down.`),
        `What should I do?`,
        `I'll give you ${med}. Take it twice a day and stay at home for ${rest} days.`,
        c.v(`Thank you, doctor. I'll do that.`, `All right. Thanks a lot.`),
      ],
      summary: c.v(`${name} has had ${sym} for ${days} days. #Person1# gives ${name} ${med} and tells ${name} to rest at home for ${rest} days.`,
        `${name} sees #Person1# about ${sym}. #Person1# prescribes ${med} and ${rest} days of rest.`),
    };
  },
};

const interview: Scene = {
  topic: 'job interview',
  make: (c) => {
    const name = c.v(...c.p.name), job = c.v(...c.p.job), company = c.v(...c.p.company), years = c.count(), start = c.v(...c.p.day);
    const hired = c.r() < 0.5;
    return {
      lines: [
        c.v(`Please come in, ${name}. You applied for the ${job} position, right?`, `Welcome to ${company}, ${name}. So you are interested in the ${job} job?`),
        c.v(`Yes. I saw the advertisement and I think I'm a good fit.`, `That's right. I have always wanted to work at ${company}.`),
        `How much experience do you have?`,
        `I worked as ${a(job)} for ${years} years at my last company.`,
        c.v(`Why did you leave?`, `Why do you want to change jobs?`),
        c.v(`I want a bigger challenge and a chance to grow.`, `My old company moved to another city.`),
        hired ? `That sounds good. We'd like to offer you the job. Can you start on ${start}?` : `Thank you. We will call you next ${start} with our decision.`,
        hired ? `Yes, ${start} is fine. Thank you very much!` : `Thank you for your time. I look forward to hearing from you.`,
      ],
      summary: hired
        ? `${name} has an interview for the ${job} position at ${company}. ${name} has ${years} years of experience, and #Person1# offers ${name} the job starting on ${start}.`
        : `${name} is interviewed for the ${job} position at ${company} and talks about ${years} years of experience. #Person1# will tell ${name} the decision next ${start}.`,
    };
  },
};

const flight: Scene = {
  topic: 'travel booking',
  make: (c) => {
    const from = c.v(...c.p.city);
    const dest = c.v(...c.p.city.filter((x) => x !== from)), day = c.v(...c.p.day), t = c.time(), price = c.price(150, 900);
    const seat = c.v('window', 'aisle');
    return {
      lines: [
        c.v(`I'd like to book a flight to ${dest}, please.`, `Hello, I need a plane ticket to ${dest}.`),
        `When would you like to leave?`,
        `Next ${day}, from ${from}.`,
        `There is a flight at ${t}. It costs ${price} dollars.`,
        c.v(`That's fine. Is there ${a(seat)} seat?`, `Good. Could I have ${a(seat)} seat?`),
        c.v(`Yes, I can give you ${a(seat)} seat.`, `Let me check. Yes, there is one ${seat} seat left.`),
        `Great, I'll book it.`,
        c.v(`Done. Please be at the airport two hours early.`, `Your ticket is booked. Have a nice trip.`),
      ],
      summary: c.v(`#Person1# books a flight from ${from} to ${dest} for next ${day} at ${t} with ${a(seat)} seat. It costs ${price} dollars.`,
        `#Person2# helps #Person1# book a ${price}-dollar flight to ${dest} leaving ${from} at ${t} next ${day}.`),
    };
  },
};

const restaurant: Scene = {
  topic: 'restaurant',
  make: (c) => {
    const [d1, d2] = [c.v(...c.p.dish), ''];
    const dish2 = c.v(...c.p.dish.filter((x) => x !== d1)), drink = c.v(...c.p.drink), price = c.price(15, 80);
    const changes = c.r() < 0.5;
    return {
      lines: [
        c.v(`Are you ready to order, sir?`, `Good evening. What would you like today?`),
        `I'd like the ${d1}${d2}, please.`,
        changes ? `I'm sorry, the ${d1} is sold out today. How about the ${dish2}?` : c.v(`Good choice. Anything to drink?`, `Sure. And to drink?`),
        changes ? `All right, I'll have the ${dish2} then. And ${a(drink)}.` : `${cap(drink)}, please.`,
        c.v(`Anything else?`, `Would you like a dessert?`),
        c.v(`No, that's all. How much will it be?`, `No, thanks. What's the total?`),
        `It's ${price} dollars.`,
        c.v(`Here you are. Keep the change.`, `OK. Can I pay by card?`),
      ],
      summary: changes
        ? `#Person2# wants the ${d1}, but it is sold out, so #Person2# orders the ${dish2} and ${a(drink)}. The meal costs ${price} dollars.`
        : c.v(`#Person2# orders the ${d1} and ${a(drink)} from #Person1#. It costs ${price} dollars.`, `#Person2# has the ${d1} with ${drink} for ${price} dollars.`),
    };
  },
};

const hotel: Scene = {
  topic: 'hotel reservation',
  make: (c) => {
    const name = c.v(...c.p.name), room = c.v(...c.p.room), nights = c.count(), price = c.price(60, 300), day = c.v(...c.p.day);
    const breakfast = c.r() < 0.5;
    return {
      lines: [
        c.v(`Golden Bay Hotel, how can I help you?`, `Good afternoon, front desk. What can I do for you?`),
        `I'd like to reserve ${a(room)} for ${nights} nights from ${day}.`,
        `May I have your name, please?`,
        `It's ${name}.`,
        `We have ${a(room)} for ${price} dollars a night.`,
        breakfast ? `Does that include breakfast?` : `That's fine. Is there parking?`,
        breakfast ? `Yes, breakfast is included.` : `Yes, parking is free for guests.`,
        c.v(`Good. Please book it.`, `Perfect, I'll take it.`),
      ],
      summary: `${name} reserves ${a(room)} for ${nights} nights from ${day} at ${price} dollars a night. ${breakfast ? 'Breakfast is included.' : 'Parking is free.'}`,
    };
  },
};

const repair: Scene = {
  topic: 'repair shop',
  make: (c) => {
    const dev = c.v(...c.p.device), prob = c.v(...c.p.problem), days = c.count(), price = c.price(30, 200);
    const repairs = c.r() < 0.65;
    return {
      lines: [
        c.v(`Hi, my ${dev} ${prob}.`, `Can you fix my ${dev}? It ${prob}.`),
        `Let me take a look. How old is it?`,
        `About ${days} years old.`,
        repairs ? `I can repair it. It will take ${days} days and cost ${price} dollars.` : `Repairing it would cost ${price} dollars. A new one is almost the same price.`,
        repairs ? c.v(`OK, please repair it.`, `That's fine, go ahead.`) : `Then I'd better buy a new one.`,
        repairs ? `Please leave your phone number. I'll call you when it's ready.` : c.v(`I think that's wise.`, `We have some new models over there.`),
      ],
      summary: repairs
        ? `#Person1#'s ${dev} ${prob}. #Person2# will repair it in ${days} days for ${price} dollars.`
        : `#Person1#'s ${dev} ${prob}. Repair costs ${price} dollars, so #Person1# decides to buy a new one.`,
    };
  },
};

const bank: Scene = {
  topic: 'bank',
  make: (c) => {
    const name = c.v(...c.p.name), amount = c.price(100, 900), kind = c.v('savings account', 'checking account');
    return {
      lines: [
        c.v(`I'd like to open a ${kind}.`, `Good morning. Can I open a ${kind} here?`),
        `Certainly. Do you have your ID with you?`,
        `Yes, here it is. My name is ${name}.`,
        `Thank you. How much would you like to deposit?`,
        `${amount} dollars, please.`,
        c.v(`Please fill in this form and sign here.`, `Fine. Please sign at the bottom of this form.`),
        c.v(`When can I get my bank card?`, `Will I get a card today?`),
        `Your card will be mailed to you in a week.`,
      ],
      summary: `${name} opens a ${kind} and deposits ${amount} dollars. #Person2# says the card will arrive in a week.`,
    };
  },
};

const directions: Scene = {
  topic: 'asking directions',
  make: (c) => {
    const place = c.v(...c.p.place), mins = c.count() * 5, turn = c.v('left', 'right'), bus = c.r() < 0.4;
    return {
      lines: [
        c.v(`Excuse me, how can I get to ${place}?`, `Sorry to bother you. Do you know the way to ${place}?`),
        bus ? `It's quite far. You'd better take bus number ${c.count() + 10}.` : `Go straight and turn ${turn} at the second corner.`,
        `How long will it take?`,
        bus ? `About ${mins} minutes by bus.` : `About ${mins} minutes on foot.`,
        c.v(`Thank you very much.`, `Thanks, that's very kind of you.`),
        c.v(`You're welcome.`, `No problem. Enjoy your day.`),
      ],
      summary: bus
        ? `#Person1# asks the way to ${place}. #Person2# suggests taking the bus, which takes about ${mins} minutes.`
        : `#Person1# asks how to get to ${place}. #Person2# says to turn ${turn} at the second corner; it's ${mins} minutes on foot.`,
    };
  },
};

const rent: Scene = {
  topic: 'renting an apartment',
  make: (c) => {
    const rooms = c.count(), price = c.price(400, 2000), place = c.v(...c.p.place), pets = c.r() < 0.5, pet = c.v(...c.p.pet);
    return {
      lines: [
        `I'm calling about the apartment for rent. Is it still available?`,
        `Yes, it is. It has ${rooms} rooms and it's near ${place}.`,
        `How much is the rent?`,
        `${price} dollars a month.`,
        `Can I keep a ${pet}?`,
        pets ? `Yes, small pets are allowed.` : `Sorry, no pets are allowed in the building.`,
        pets ? `Wonderful. Can I see it tomorrow?` : `Oh, that's a pity. Then it's not for me.`,
        pets ? `Sure, come at ${c.time()}.` : `I understand. Good luck with your search.`,
      ],
      summary: pets
        ? `#Person1# calls about an apartment with ${rooms} rooms near ${place} for ${price} dollars a month. Pets are allowed, so #Person1# will see it tomorrow.`
        : `#Person1# asks about a ${price}-dollar apartment near ${place}, but #Person1# can't keep a ${pet} there, so #Person1# isn't interested.`,
    };
  },
};

const taxi: Scene = {
  topic: 'taxi',
  make: (c) => {
    const place = c.v(...c.p.place), fare = c.price(10, 60), t = c.time(), hurry = c.r() < 0.5;
    return {
      lines: [
        `Where to?`,
        `${cap(place)}, please. ${hurry ? `I have to be there by ${t}.` : 'No hurry.'}`,
        hurry ? `The traffic is heavy, but I'll take a shortcut.` : `All right. It's a nice day for a drive.`,
        c.v(`How much will it cost?`, `What's the fare, roughly?`),
        `About ${fare} dollars.`,
        c.v(`OK. Here we are already?`, `Fine. Please stop at the main gate.`),
        `Yes. That's ${fare} dollars.`,
        `Here you are. Thank you.`,
      ],
      summary: hurry
        ? `#Person2# takes a taxi to ${place} and must be there by ${t}. The driver takes a shortcut and the fare is ${fare} dollars.`
        : `#Person2# takes a taxi to ${place}. The fare is ${fare} dollars.`,
    };
  },
};

const post: Scene = {
  topic: 'post office',
  make: (c) => {
    const item = c.v(...c.p.item), city = c.v(...c.p.city), days = c.count(), price = c.price(10, 60), express = c.r() < 0.5;
    return {
      lines: [
        `I'd like to send this parcel to ${city}.`,
        `What's inside?`,
        `${cap(a(item))} for my ${c.v(...c.p.relative)}.`,
        express ? `By express it arrives in ${days} days and costs ${price} dollars.` : `By regular mail it takes ${days * 2} days and costs ${price} dollars.`,
        c.v(`That's fine. Here is the money.`, `OK, please send it that way.`),
        `Please write the address clearly here.`,
      ],
      summary: express
        ? `#Person1# sends ${a(item)} to ${city} by express. It costs ${price} dollars and arrives in ${days} days.`
        : `#Person1# mails ${a(item)} to ${city} by regular mail for ${price} dollars; it will take ${days * 2} days.`,
    };
  },
};

export const SCENES_A: Scene[] = [shopping, doctor, interview, flight, restaurant, hotel, repair, bank, directions, rent, taxi, post];
